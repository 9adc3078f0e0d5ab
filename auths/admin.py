from django.contrib import admin

from vbaproject.admin_base import EntityAdmin

from .models import Auth


@admin.register(Auth)
class AuthAdmin(EntityAdmin):
    pass
