from django.contrib import admin

from vbaproject.admin_base import EntityAdmin

from .models import CareCase, CareCaseClinicalTrial


@admin.register(CareCase)
class CareCaseAdmin(EntityAdmin):
    pass


@admin.register(CareCaseClinicalTrial)
class CareCaseClinicalTrialAdmin(EntityAdmin):
    pass
