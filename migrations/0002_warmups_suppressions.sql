CREATE TABLE `suppressions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`tenant_id` text NOT NULL,
	`address` text NOT NULL,
	`reason` text NOT NULL,
	`source` text,
	`message_id` text,
	`job_id` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `suppressions_tenant_address` ON `suppressions` (`tenant_id`,`address`);--> statement-breakpoint
CREATE INDEX `suppressions_tenant_id` ON `suppressions` (`tenant_id`,`id`);--> statement-breakpoint
CREATE TABLE `warmups` (
	`id` text PRIMARY KEY NOT NULL,
	`scope` text NOT NULL,
	`key` text NOT NULL,
	`pool` text,
	`lane` text,
	`overrides` text NOT NULL,
	`plan` text NOT NULL,
	`status` text NOT NULL,
	`started_at` integer NOT NULL,
	`day_start` integer NOT NULL,
	`providers` text NOT NULL,
	`ended_at` integer,
	`created_by` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `warmups_active_target` ON `warmups` (`scope`,`key`) WHERE status = 'active';--> statement-breakpoint
CREATE INDEX `warmups_status` ON `warmups` (`status`);