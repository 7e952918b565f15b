"""Self-contained HTML pages for people outside the terminal: `bulkx plan PLAN -o html` (the
audit page a change ticket carries) and `bulkx report RUN_ID -o html` (what a run did).

Plain data in, one HTML document out: no script, no external asset (a Content-Security-Policy
forbids both), every value from a plan, the API or a journal escaped by Jinja2's autoescape.
Jinja2 is imported only here, so only `-o html` pays for it.
"""
