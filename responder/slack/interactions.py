"""placeholder"""
from flask import Blueprint

blueprint = Blueprint("slack", __name__)
