"""Cache-order advice: scan the context, apply the rules, report findings, rewrite the Dockerfile."""
