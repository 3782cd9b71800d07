/** Stored templates and their versions over libSQL (edge/ports/templates.ts). */
import { and, asc, desc, eq, sql } from 'drizzle-orm';
import type { TemplateContent, TemplateRecord, TemplateStore, TemplateVersionRecord } from '../../ports/templates.ts';
import { templates, templateVersions } from '../schema.ts';
import { isUniqueViolation, type PostlaneDb } from './db.ts';

/** Concurrent PUTs of one template: each retries on the version another took, this many times. */
const VERSION_RETRIES = 5;

export class LibsqlTemplates implements TemplateStore {
  constructor(private readonly db: PostlaneDb) {}

  async createTemplate(row: TemplateRecord, content: TemplateContent) {
    await this.db.batch([
      this.db.insert(templates).values(row),
      this.db.insert(templateVersions).values({ templateId: row.id, version: 1, ...content, createdAt: row.createdAt }),
    ]);
  }

  async listTemplates(tenantId: string) {
    return this.db.select().from(templates).where(eq(templates.tenantId, tenantId)).orderBy(desc(templates.createdAt), desc(templates.id));
  }

  async getTemplate(tenantId: string, id: string) {
    const [row] = await this.db.select().from(templates).where(and(eq(templates.tenantId, tenantId), eq(templates.id, id)));
    return row ?? null;
  }

  async getTemplateVersion(tenantId: string, id: string, version: number | null): Promise<TemplateVersionRecord | null> {
    const [row] = await this.db
      .select({ version: templateVersions })
      .from(templateVersions)
      .innerJoin(templates, eq(templates.id, templateVersions.templateId))
      .where(and(eq(templates.tenantId, tenantId), eq(templates.id, id), eq(templateVersions.version, version ?? templates.currentVersion)));
    return row?.version ?? null;
  }

  async listTemplateVersions(tenantId: string, id: string) {
    const rows = await this.db
      .select({ version: templateVersions })
      .from(templateVersions)
      .innerJoin(templates, eq(templates.id, templateVersions.templateId))
      .where(and(eq(templates.tenantId, tenantId), eq(templates.id, id)))
      .orderBy(asc(templateVersions.version));
    return rows.map((r) => r.version);
  }

  async addTemplateVersion(tenantId: string, id: string, content: TemplateContent, name: string | null, now: number) {
    for (let attempt = 0; ; attempt++) {
      const current = await this.getTemplate(tenantId, id);
      if (!current) return null;
      const version = current.currentVersion + 1;
      try {
        // The version row's primary key (template, version) is the guard: a concurrent PUT that
        // took this number fails here and tries the next one.
        const [, updated] = await this.db.batch([
          this.db.insert(templateVersions).values({ templateId: id, version, ...content, createdAt: now }),
          this.db
            .update(templates)
            .set({ currentVersion: sql`max(${templates.currentVersion}, ${version})`, updatedAt: now, ...(name !== null ? { name } : {}) })
            .where(and(eq(templates.tenantId, tenantId), eq(templates.id, id)))
            .returning(),
        ]);
        return updated[0] ?? null;
      } catch (error) {
        if (attempt < VERSION_RETRIES && isUniqueViolation(error, 'template_versions')) continue;
        throw error;
      }
    }
  }

  async deleteTemplate(tenantId: string, id: string) {
    const current = await this.getTemplate(tenantId, id);
    if (!current) return false;
    await this.db.batch([
      this.db.delete(templateVersions).where(eq(templateVersions.templateId, id)),
      this.db.delete(templates).where(and(eq(templates.tenantId, tenantId), eq(templates.id, id))),
    ]);
    return true;
  }
}
