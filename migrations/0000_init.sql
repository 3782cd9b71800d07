CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`key_hash` text NOT NULL,
	`prefix` text NOT NULL,
	`scopes` text NOT NULL,
	`name` text,
	`created_at` integer NOT NULL,
	`revoked_at` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_hash` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE TABLE `delivery_jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`message_id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`recipient` text NOT NULL,
	`recipient_kind` text NOT NULL,
	`domain` text NOT NULL,
	`sender_domain` text NOT NULL,
	`provider` text NOT NULL,
	`pool` text NOT NULL,
	`lane` text NOT NULL,
	`region` text,
	`dedup_key` text NOT NULL,
	`state` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`lease_id` text,
	`lease_owner` text,
	`lease_expires_at` integer,
	`last_reply` text,
	`last_class` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `delivery_jobs_dedup` ON `delivery_jobs` (`dedup_key`);--> statement-breakpoint
CREATE INDEX `delivery_jobs_ready` ON `delivery_jobs` (`state`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `delivery_jobs_lease` ON `delivery_jobs` (`state`,`lease_expires_at`);--> statement-breakpoint
CREATE INDEX `delivery_jobs_message` ON `delivery_jobs` (`message_id`);--> statement-breakpoint
CREATE INDEX `delivery_jobs_tenant_state` ON `delivery_jobs` (`tenant_id`,`state`);--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`tenant_id` text NOT NULL,
	`key` text NOT NULL,
	`request_hash` text NOT NULL,
	`status` integer NOT NULL,
	`response` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `key`)
);
--> statement-breakpoint
CREATE TABLE `message_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`message_id` text NOT NULL,
	`job_id` text,
	`type` text NOT NULL,
	`at` integer NOT NULL,
	`data` text
);
--> statement-breakpoint
CREATE INDEX `message_events_message` ON `message_events` (`message_id`,`id`);--> statement-breakpoint
CREATE TABLE `messages` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`from_address` text NOT NULL,
	`from_domain` text NOT NULL,
	`subject` text NOT NULL,
	`lane` text NOT NULL,
	`pool` text NOT NULL,
	`raw` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`message_id_header` text NOT NULL,
	`tags` text,
	`constraints` text,
	`send_at` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `messages_tenant_created` ON `messages` (`tenant_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `node_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`token_hash` text NOT NULL,
	`region` text NOT NULL,
	`allowed_ips` text NOT NULL,
	`name` text,
	`created_at` integer NOT NULL,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `node_tokens_hash` ON `node_tokens` (`token_hash`);--> statement-breakpoint
CREATE TABLE `nodes` (
	`id` text PRIMARY KEY NOT NULL,
	`region` text NOT NULL,
	`version` text NOT NULL,
	`ips` text NOT NULL,
	`capacity` integer NOT NULL,
	`connected_at` integer,
	`last_seen_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `policy_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`scope` text NOT NULL,
	`key` text NOT NULL,
	`type` text NOT NULL,
	`from_state` text,
	`to_state` text,
	`reason` text NOT NULL,
	`at` integer NOT NULL,
	`data` text
);
--> statement-breakpoint
CREATE INDEX `policy_events_at` ON `policy_events` (`at`);--> statement-breakpoint
CREATE INDEX `policy_events_scope_key` ON `policy_events` (`scope`,`key`,`at`);--> statement-breakpoint
CREATE TABLE `pools` (
	`name` text PRIMARY KEY NOT NULL,
	`tenant_id` text,
	`description` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `sending_domains` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`domain` text NOT NULL,
	`dkim_selector` text NOT NULL,
	`dkim_algorithm` text NOT NULL,
	`dkim_private_key_enc` text NOT NULL,
	`dkim_public_key` text NOT NULL,
	`return_path_domain` text NOT NULL,
	`status` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `sending_domains_tenant_domain` ON `sending_domains` (`tenant_id`,`domain`);--> statement-breakpoint
CREATE TABLE `tenants` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`api_rate_per_sec` integer,
	`created_at` integer NOT NULL
);
