"""What a run leaves behind: the report's HTML (templates/, report.css), sign-off, timeline, charts,
the watch page, diagnostics and the exports (Pushgateway, Grafana annotations, Allure categories).
"""
