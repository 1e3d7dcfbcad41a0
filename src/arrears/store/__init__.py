"""The store: SQLAlchemy tables, migrations, encryption of personal data, repositories."""
