"""Publication (公示 -> 异议期 -> 发放): publish, objections, resolution, finalization."""
