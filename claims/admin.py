from vbaproject.admin.base import EntityAdmin
from vbaproject.admin.sites import register

from .models import ClaimPromptPay


@register(ClaimPromptPay)
class ClaimPromptPayAdmin(EntityAdmin):
    list_display = [
        "claimPromptPay_Key",
        "group_ID",
        "division_ID",
        "plan_ID",
        "tax_ID",
        "prompt_Pay_Duration",
        "prompt_Pay_Duration_Type",
        "update_Date",
    ]
    list_filter = ["prompt_Pay_Duration_Type"]
    search_fields = ["=claimPromptPay_Key", "^group_ID", "^division_ID", "^plan_ID", "^tax_ID"]
    search_help_text = "Prompt-pay key, group, division, plan or tax ID."
    # The key breaks ties: the whole order is the promptpay_admin_order index's.
    ordering = ["group_ID", "division_ID", "plan_ID", "tax_ID", "claimPromptPay_Key"]
    sections = [
        ("Applies to", ["group_ID", "division_ID", "plan_ID", "tax_ID"]),
        ("Prompt pay", ["prompt_Pay_*"]),
    ]
