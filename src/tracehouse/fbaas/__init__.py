"""FBaaS, FizzBuzz as a Service: the example system of "Implementing Distributed Tracing" (PyCascades 2023).

Three services, each its own process: `hub` (FastAPI, auto-instrumented) asks `fizzer` (Flask,
instrumented by hand) and `buzzer` (Flask, auto-instrumented). They know nothing of tracehouse: they
import only OpenTelemetry, their web frameworks, httpx and the stdlib, and export over OTLP like any
user's service (an import-linter contract keeps it so).
"""
