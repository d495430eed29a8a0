"""The submission desk: a small Chinese web app over the snapshot and the CLI's own functions.

    create_app(cfg, plan=None) -> FastAPI          # kpi/desk/app.py
    serve(cfg, plan=None, host=..., port=...)       # uvicorn, `kpi desk`
    links.mint_link / links.same_link               # the department's link, minted at delivery
See kpi/desk/README.md.
"""
