"""The bundled conformance suite: one module per catalogue group, one test per rule."""
