"""Output plumbing: batched stdout, STATE at a bounded rate, RECORD lines in bulk."""
