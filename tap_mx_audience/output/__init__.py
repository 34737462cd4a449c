"""The output plumbing: batched stdout, STATE at a bounded rate, bulk RECORD lines."""
