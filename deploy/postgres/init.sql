-- Run once by the postgres image on an empty data volume: the MLflow backend gets a database of its own, because
-- MLflow and the clearance store each keep their schema version in a table named alembic_version.
CREATE DATABASE mlflow OWNER clearance;
