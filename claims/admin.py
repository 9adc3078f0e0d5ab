from django.contrib import admin

from vbaproject.admin_base import EntityAdmin

from .models import ClaimPromptPay


@admin.register(ClaimPromptPay)
class ClaimPromptPayAdmin(EntityAdmin):
    pass
