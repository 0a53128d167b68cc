-- The reject-rate verdict per day too, so a range run's reports hold back only the
-- days whose own reject rate was too high.
ALTER TABLE staging_cargas ADD COLUMN IF NOT EXISTS tasa_rechazo_excedida boolean NOT NULL DEFAULT false;
