"""Tests of the backend as a whole: real `tracehouse up` processes and real OTel exporters as clients."""
