CREATE TABLE `alert_rules` (
	`id` text PRIMARY KEY NOT NULL,
	`settings` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `alerts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`rule` text NOT NULL,
	`subject` text NOT NULL,
	`tenant_id` text,
	`state` text NOT NULL,
	`summary` text NOT NULL,
	`numbers` text NOT NULL,
	`resolved_numbers` text,
	`raised_at` integer NOT NULL,
	`resolved_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `alerts_open_subject` ON `alerts` (`rule`,`subject`) WHERE state = 'open';--> statement-breakpoint
CREATE INDEX `alerts_raised` ON `alerts` (`raised_at`);--> statement-breakpoint
CREATE TABLE `delivery_rollups` (
	`minute` integer NOT NULL,
	`tenant_id` text NOT NULL,
	`lane` text NOT NULL,
	`pool` text NOT NULL,
	`provider` text NOT NULL,
	`domain` text NOT NULL,
	`sender_domain` text NOT NULL,
	`outcome` text NOT NULL,
	`reply_class` text NOT NULL,
	`enhanced` text NOT NULL,
	`code` integer NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`minute`, `tenant_id`, `lane`, `pool`, `provider`, `domain`, `sender_domain`, `outcome`, `reply_class`, `enhanced`, `code`)
);
--> statement-breakpoint
CREATE INDEX `delivery_rollups_tenant_minute` ON `delivery_rollups` (`tenant_id`,`minute`);--> statement-breakpoint
CREATE TABLE `delivery_totals` (
	`provider` text NOT NULL,
	`pool` text NOT NULL,
	`outcome` text NOT NULL,
	`reply_class` text NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`provider`, `pool`, `outcome`, `reply_class`)
);
--> statement-breakpoint
CREATE TABLE `latency_rollups` (
	`minute` integer NOT NULL,
	`tenant_id` text NOT NULL,
	`lane` text NOT NULL,
	`pool` text NOT NULL,
	`provider` text NOT NULL,
	`domain` text NOT NULL,
	`sender_domain` text NOT NULL,
	`metric` text NOT NULL,
	`bucket` integer NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`minute`, `tenant_id`, `lane`, `pool`, `provider`, `domain`, `sender_domain`, `metric`, `bucket`)
);
--> statement-breakpoint
CREATE INDEX `latency_rollups_tenant_minute` ON `latency_rollups` (`tenant_id`,`minute`);