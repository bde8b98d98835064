"""OTLP decoding, shared by the gRPC and HTTP receivers: bodies in, validated spans out.

Import from the modules themselves. This package imports nothing, so that the decode worker can
load the walk (tracehouse.otlp.walk) without pyarrow.
"""
