"""Changes mode: the snapshot store of delivered member sets, and the diff."""
