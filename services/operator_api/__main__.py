"""python -m services.operator_api"""

from services.operator_api.bootstrap import build_app
from services.operator_api.config import OperatorApiSettings
from shared.runtime import serve

settings = OperatorApiSettings()
serve(build_app(settings), settings)
