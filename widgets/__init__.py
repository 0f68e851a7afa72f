"""ipywidgets + plotly UI for the notebooks. Imports hourglass_core; never the reverse."""
