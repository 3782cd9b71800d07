/** Stored templates (SPEC §7): the store's side. Every version is kept; a template is its tenant's only. */
export interface TemplateVersionRecord {
  templateId: string;
  version: number;
  subject: string;
  text: string | null;
  html: string | null;
  createdAt: number;
}

export interface TemplateRecord {
  id: string;
  tenantId: string;
  name: string;
  currentVersion: number;
  createdAt: number;
  updatedAt: number;
}

export interface TemplateContent {
  subject: string;
  text: string | null;
  html: string | null;
}

export interface TemplateStore {
  /** Writes the template and its version 1 together. */
  createTemplate(row: TemplateRecord, content: TemplateContent): Promise<void>;
  /** Newest first. */
  listTemplates(tenantId: string): Promise<TemplateRecord[]>;
  getTemplate(tenantId: string, id: string): Promise<TemplateRecord | null>;
  /** One version (the current one when `version` is null); null if the template or version does not exist. */
  getTemplateVersion(tenantId: string, id: string, version: number | null): Promise<TemplateVersionRecord | null>;
  /** Every version, oldest first. */
  listTemplateVersions(tenantId: string, id: string): Promise<TemplateVersionRecord[]>;
  /**
   * Adds the next version and makes it current (and renames, if `name` is given); null if the
   * template does not exist. Guarded by the version it read, so two concurrent PUTs make two versions.
   */
  addTemplateVersion(tenantId: string, id: string, content: TemplateContent, name: string | null, now: number): Promise<TemplateRecord | null>;
  /** Deletes the template and every version; false if there was none. */
  deleteTemplate(tenantId: string, id: string): Promise<boolean>;
}
