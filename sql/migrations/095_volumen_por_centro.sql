-- The volumen check judges each allowed center on its own as well: each day's rows read per
-- center, the history the next days compare against.
ALTER TABLE staging_cargas ADD COLUMN IF NOT EXISTS filas_por_centro jsonb NOT NULL DEFAULT '{}'::jsonb;
