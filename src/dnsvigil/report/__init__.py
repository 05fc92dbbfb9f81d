"""Reports that render what analyzers computed: HTML pages with Plotly charts, tables and explanations."""
