"""Reports: failure messages and drawings, the certificate and HTML report, catalogue docs."""

from __future__ import annotations

from pytest_offload.report._catalogue_doc import render as render
from pytest_offload.report._catalogue_doc import render_status_codes as render_status_codes
from pytest_offload.report._certificate import build_certificate as build_certificate
from pytest_offload.report._certificate import catalogue_hash as catalogue_hash
from pytest_offload.report._certificate import certificate_hash as certificate_hash
from pytest_offload.report._certificate import load_schema as load_schema
from pytest_offload.report._certificate import render_html as render_html
from pytest_offload.report._certificate import write_report as write_report
from pytest_offload.report._drawing import draw_report as draw_report
from pytest_offload.report._drawing import state_type_name as state_type_name
from pytest_offload.report._failure import ConformanceError as ConformanceError
from pytest_offload.report._failure import counterexample_data as counterexample_data
from pytest_offload.report._failure import describe_failure as describe_failure

__all__ = [
    "ConformanceError",
    "build_certificate",
    "catalogue_hash",
    "certificate_hash",
    "counterexample_data",
    "describe_failure",
    "draw_report",
    "load_schema",
    "render",
    "render_html",
    "render_status_codes",
    "state_type_name",
    "write_report",
]
