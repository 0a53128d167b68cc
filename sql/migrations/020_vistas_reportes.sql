-- Report helpers for analysts: problem menus (the seed's "menús problemáticos") with a
-- configurable threshold, and a date column on the quarterly report. Idempotent.

-- reportes_trimestral keys its rows by (trimestre, anio) only. The quarter's first day, derived
-- from them, lets the report asset replace a window of quarters by date like every other report
-- (reemplazo.reemplazar_periodo) and lets analysts filter quarters by date.
ALTER TABLE reportes_trimestral
    ADD COLUMN IF NOT EXISTS fecha_inicio date GENERATED ALWAYS AS (
        make_date(anio, CASE trimestre WHEN 'Q1' THEN 1 WHEN 'Q2' THEN 4 WHEN 'Q3' THEN 7 ELSE 10 END, 1)
    ) STORED;

-- Report settings analysts' views read. The pipeline writes the configured value here each time
-- it builds reportes_menu_problemas (IACT_MENU_UMBRAL_PROBLEMA), so the view follows the setting.
CREATE TABLE IF NOT EXISTS config_reportes (
    clave       varchar(100) PRIMARY KEY,
    valor       numeric NOT NULL,
    descripcion text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO config_reportes (clave, valor, descripcion)
VALUES ('menu_umbral_problema', 0.20,
        'A menu is a problem on a day when its abandon share, or its timeouts + errors share, exceeds this (0..1)')
ON CONFLICT (clave) DO NOTHING;

-- Problem menus between two dates (inclusive; NULL = unbounded) above a share (NULL = the
-- configured one): abandon rate above the share, or timeouts + errors above it.
CREATE OR REPLACE FUNCTION menus_problematicos(
    desde date DEFAULT NULL, hasta date DEFAULT NULL, umbral numeric DEFAULT NULL
) RETURNS TABLE (
    fecha date, menu_id varchar, menu_nombre varchar, veces_accedido integer, abandonos integer,
    timeout integer, errores integer, tasa_abandono numeric, tasa_timeout_error numeric,
    tiempo_promedio_permanencia numeric, motivo text
) LANGUAGE sql STABLE AS $$
    WITH parametro AS (
        SELECT coalesce(umbral, (SELECT valor FROM config_reportes WHERE clave = 'menu_umbral_problema'), 0.20)
               * 100 AS limite
    ), menus AS (
        SELECT r.*,
               CASE WHEN r.veces_accedido = 0 THEN 0
                    ELSE round(100.0 * (r.timeout + r.errores) / r.veces_accedido, 2) END AS tasa_te
        FROM reportes_menu_problemas AS r
        WHERE (desde IS NULL OR r.fecha >= desde) AND (hasta IS NULL OR r.fecha <= hasta)
    )
    SELECT m.fecha, m.menu_id, m.menu_nombre, m.veces_accedido, m.abandonos, m.timeout, m.errores,
           m.tasa_abandono, m.tasa_te, m.tiempo_promedio_permanencia,
           CASE WHEN m.tasa_abandono > p.limite AND m.tasa_te > p.limite THEN 'abandono y timeout/error'
                WHEN m.tasa_abandono > p.limite THEN 'abandono'
                ELSE 'timeout/error' END
    FROM menus AS m CROSS JOIN parametro AS p
    WHERE m.tasa_abandono > p.limite OR m.tasa_te > p.limite
    ORDER BY m.fecha DESC, greatest(m.tasa_abandono, m.tasa_te) DESC, m.menu_id
$$;

-- Every problem menu of every day, with the configured threshold.
CREATE OR REPLACE VIEW v_menus_problematicos AS
SELECT * FROM menus_problematicos();
