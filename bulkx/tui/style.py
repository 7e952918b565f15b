"""All of the monitor's styling (kept in the package as a string, so it ships with the code).

At 80x24 every panel gets a line or more; on a tall terminal (`-tall`, 40 rows and up) the
throughput plot grows and the failures and the log share the rest.
"""

STYLES = """
#header {
    height: 3;
    padding: 0 1;
    text-wrap: nowrap;
    text-overflow: ellipsis;
}

#steps, #throughput, #failures, #log, #all-failures, #item, #runs {
    border-top: solid $primary-darken-2;
    border-title-color: $text-muted;
}

#steps {
    height: auto;
    max-height: 12;
    padding: 0 1;
}

#throughput {
    height: 3;
}

.-tall #throughput {
    height: 9;
}

#failures {
    height: 1fr;
    min-height: 4;
    overflow-x: hidden;
}

#log {
    height: 1fr;
    min-height: 3;
    padding: 0 1;
    text-wrap: nowrap;
    text-overflow: ellipsis;
}

#all-failures, #runs {
    height: 1fr;
}

#item {
    height: 1fr;
    padding: 0 1;
}

ConfirmScreen {
    align: center middle;
}

#dialog {
    width: 64;
    max-width: 95%;
    height: auto;
    border: thick $error;
    border-title-color: $text;
    padding: 1 2;
    background: $surface;
}

#buttons {
    height: auto;
    margin-top: 1;
    align-horizontal: right;
}

#buttons Button {
    margin-left: 2;
}
"""
