"""The VBAPI routes, collected from each entity app's ``api.routes``."""

urlpatterns = []
