"""Deploy work run by the RQ worker: records, queueing, the pipeline and its stages."""
