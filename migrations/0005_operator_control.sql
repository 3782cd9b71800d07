CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`actor_key_id` text NOT NULL,
	`actor_key_name` text,
	`actor_tenant_id` text,
	`tenant_id` text,
	`action` text NOT NULL,
	`target_kind` text NOT NULL,
	`target_id` text NOT NULL,
	`before` text,
	`after` text,
	`reason` text
);
--> statement-breakpoint
CREATE INDEX `audit_log_tenant` ON `audit_log` (`tenant_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_log_target` ON `audit_log` (`target_kind`,`target_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_log_actor` ON `audit_log` (`actor_key_id`,`id`);--> statement-breakpoint
CREATE TABLE `config_plans` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`base_seq` integer NOT NULL,
	`state_hash` text NOT NULL,
	`document` text NOT NULL,
	`changes` text NOT NULL,
	`kind` text NOT NULL,
	`rollback_of` text,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`applied_at` integer
);
--> statement-breakpoint
CREATE TABLE `config_versions` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`seq` integer NOT NULL,
	`document` text NOT NULL,
	`changes` text NOT NULL,
	`state_hash` text NOT NULL,
	`kind` text NOT NULL,
	`rollback_of` text,
	`applied_by` text NOT NULL,
	`applied_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `config_versions_tenant_seq` ON `config_versions` (`tenant_id`,`seq`);--> statement-breakpoint
CREATE TABLE `source_ips` (
	`address` text PRIMARY KEY NOT NULL,
	`pool` text NOT NULL,
	`node_token_id` text,
	`status` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `api_keys` ADD `last_used_at` integer;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `rotated_from` text;--> statement-breakpoint
CREATE INDEX `api_keys_tenant` ON `api_keys` (`tenant_id`,`created_at`);--> statement-breakpoint
ALTER TABLE `node_tokens` ADD `rotated_from` text;