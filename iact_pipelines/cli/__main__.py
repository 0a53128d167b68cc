from iact_pipelines.cli import principal

principal()
