from django.contrib import admin

from vbaproject.admin_base import EntityAdmin

from .models import Grievance


@admin.register(Grievance)
class GrievanceAdmin(EntityAdmin):
    pass
