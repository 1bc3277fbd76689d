"""The study: arms, persistence experiments, report and plots."""
