import { z } from 'zod';
import { fromBase64Url } from './bytes.js';
import { ERROR_CODE_LIST } from './errors.js';

/** Shared field schemas. */

export const Base64UrlBytes = (min: number, max: number) =>
  z
    .string()
    .max(Math.ceil((max * 4) / 3) + 4)
    .transform((s, ctx) => {
      const bytes = fromBase64Url(s);
      if (bytes === undefined) {
        ctx.addIssue({ code: 'custom', message: 'invalid base64url' });
        return z.NEVER;
      }
      if (bytes.length < min || bytes.length > max) {
        ctx.addIssue({ code: 'custom', message: `must be ${min}-${max} bytes` });
        return z.NEVER;
      }
      return bytes;
    });

/** MLS epochs are uint64; we refuse anything JS cannot count exactly. */
export const EpochSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const SeqSchema = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
export const RequestIdSchema = z.number().int().min(0).max(0xffffffff);

/** Day precision is all the server keeps for "created" dates. */
export const DayStringSchema = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);

export const ErrorBodySchema = z.object({
  code: z.enum(ERROR_CODE_LIST as [string, ...string[]]),
  message: z.string(),
  retryable: z.boolean(),
  detail: z.record(z.string(), z.unknown()).optional(),
});
