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
CREATE INDEX `suppressions_tenant_id` ON `suppressions` (`tenant_id`,`id`);