CREATE TABLE `holds` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`scope` text NOT NULL,
	`key` text NOT NULL,
	`status` text NOT NULL,
	`reason` text NOT NULL,
	`volume` integer NOT NULL,
	`threshold` integer NOT NULL,
	`trailing_p95` integer NOT NULL,
	`created_at` integer NOT NULL,
	`decided_at` integer,
	`decided_by` text,
	`decision_reason` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `holds_pending_target` ON `holds` (`tenant_id`,`scope`,`key`) WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX `holds_tenant` ON `holds` (`tenant_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `quota_usage` (
	`tenant_id` text NOT NULL,
	`sender_domain` text NOT NULL,
	`lane` text NOT NULL,
	`bucket` integer NOT NULL,
	`recipients` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `bucket`, `sender_domain`, `lane`)
);
--> statement-breakpoint
ALTER TABLE `node_tokens` ADD `previous_token_hash` text;--> statement-breakpoint
ALTER TABLE `node_tokens` ADD `previous_expires_at` integer;--> statement-breakpoint
ALTER TABLE `node_tokens` ADD `rotated_at` integer;--> statement-breakpoint
CREATE INDEX `node_tokens_previous_hash` ON `node_tokens` (`previous_token_hash`);--> statement-breakpoint
ALTER TABLE `node_tokens` DROP COLUMN `rotated_from`;