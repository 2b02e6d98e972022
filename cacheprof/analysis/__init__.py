"""Pure statistics over profiles: per-step figures, compare verdicts, image equivalence, regressions."""
