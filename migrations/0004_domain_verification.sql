ALTER TABLE `sending_domains` ADD `verify_token` text;--> statement-breakpoint
ALTER TABLE `sending_domains` ADD `checks` text;--> statement-breakpoint
ALTER TABLE `sending_domains` ADD `checked_at` integer;--> statement-breakpoint
ALTER TABLE `sending_domains` ADD `verified_at` integer;--> statement-breakpoint
CREATE UNIQUE INDEX `sending_domains_verified_domain` ON `sending_domains` (`domain`) WHERE status = 'verified';--> statement-breakpoint
-- Domains added before verification existed get their ownership token here (32 hex characters).
UPDATE `sending_domains` SET `verify_token` = lower(hex(randomblob(16))) WHERE `verify_token` IS NULL;
