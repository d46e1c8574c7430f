"""From result rows to answers: tables, claims, plots, the report, comparisons and targets."""
