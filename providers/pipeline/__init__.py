"""Pipelines: steps (LLM calls, waits that stand for I/O, HTTP GETs) with dependencies,
run with maximal concurrency or one at a time, recorded like a race."""

from providers.pipeline.graph import (
    GraphError,
    longest_path,
    observed_critical_path,
    topological_order,
    upstream,
)
from providers.pipeline.runner import (
    PIPELINE_MODES,
    PipelinePass,
    PipelineRunner,
    StepResult,
    parse_pipeline_mode,
)
from providers.pipeline.spec import (
    Pipeline,
    PipelineError,
    Step,
    Template,
    load_pipeline,
    parse_pipeline,
    parse_template,
)

__all__ = [
    "PIPELINE_MODES",
    "GraphError",
    "Pipeline",
    "PipelineError",
    "PipelinePass",
    "PipelineRunner",
    "Step",
    "StepResult",
    "Template",
    "load_pipeline",
    "longest_path",
    "observed_critical_path",
    "parse_pipeline",
    "parse_pipeline_mode",
    "parse_template",
    "topological_order",
    "upstream",
]
