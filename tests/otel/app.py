"""An application instrumented by one real OpenTelemetry instrumentation, run as its own process
(instrumentations patch the SDKs they instrument, so two in one process would see each other).

It makes real SDK calls (openai / anthropic) to the fake provider server, inside a parent span
that carries the session and the user, and exports every span with the OTLP/HTTP protobuf
exporter to `costwatch collect` as each span ends: the children's batches go first and the parent
with the session comes in a later batch, as in a real application.

usage: app.py INSTRUMENTATION COLLECTOR_URL PROVIDER_URL SESSION USER CALLS_JSON
CALLS_JSON: [{"provider": "openai" | "anthropic", "model": "..."}, ...]
"""

from __future__ import annotations

import json
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor


def instrument(name: str) -> None:
    if name == "openai-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
    elif name == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
    elif name == "traceloop-openai":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
    elif name == "traceloop-anthropic":
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

        AnthropicInstrumentor().instrument()
    else:
        raise SystemExit(f"unknown instrumentation {name}")


def call(provider_url: str, provider: str, model: str) -> None:
    if provider == "openai":
        import openai

        client = openai.OpenAI(api_key="sk-test", base_url=f"{provider_url}/openai/v1")
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    else:
        import anthropic

        client = anthropic.Anthropic(api_key="sk-ant-test", base_url=f"{provider_url}/anthropic")
        client.messages.create(
            model=model, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        )


def main() -> None:
    name, collector, provider_url, session, user, calls = sys.argv[1:7]
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": f"app-{name}"}))
    exporter = OTLPSpanExporter(endpoint=f"{collector}/v1/traces", timeout=10)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(tracer_provider)
    instrument(name)
    tracer = trace.get_tracer("costwatch-test-app")
    with tracer.start_as_current_span(
        "handle_request", attributes={"session.id": session, "user.id": user}
    ):
        for c in json.loads(calls):
            with tracer.start_as_current_span("answer_question"):  # no session of its own
                call(provider_url, c["provider"], c["model"])
    tracer_provider.shutdown()


if __name__ == "__main__":
    main()
