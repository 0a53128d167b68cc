"""Fixtures shared by the monitoring tests."""

import pytest


@pytest.fixture
def admins(warehouse):
    """Two active admins, an inactive admin and an active non-admin; returns the active admin ids."""
    rows = warehouse.execute(
        """
        INSERT INTO usuarios (nombre, es_admin, activo) VALUES
            ('ana', true, true), ('beto', true, true), ('carla', true, false), ('dora', false, true)
        RETURNING id, nombre
        """
    ).fetchall()
    return sorted(i for i, nombre in rows if nombre in ("ana", "beto"))
