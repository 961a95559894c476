"""Persistence: schema, migrations, repositories. The only code that speaks SQL."""
