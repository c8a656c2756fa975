"""The workflow core, pure: no I/O of its own, no clock, no Prefect, Streamlit, docx or storage.

    spec         the definition models (states, transitions, timers, splits and joins, settings)
    forms        field kinds and their checks: one definition drives the server check and the widget
    expressions  the safe evaluator for guards and visible-when conditions (never Python's eval)
    workdays     工作日 with China's 调休, admins' entries, and the Monday–Friday fallback it warns of
    org          units, people and their roles
    validate     every error of a definition, with its field path
    engine       given a definition, a case, an actor and `now`: open actions, fire one, timers, replay
    errors       what the core refuses, in Chinese
"""
