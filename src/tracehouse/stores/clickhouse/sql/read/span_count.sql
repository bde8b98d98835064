SELECT count() FROM {span_data} FINAL
