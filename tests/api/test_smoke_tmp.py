from tests.conftest import ANNA

OVERVIEW = """
query { me { id cpr name totalOutstanding { amountOere amount currency formatted }
  claims { totalCount nodes { id reference title kind outstanding { amount } status
    sender { name contact { phone phoneHours { weekday opens closes } } }
    collection { status marker since }
    eligibility { canPay canCreateInstallmentPlan reasons }
    statement { balance { amount } lines { postedOn kind text amount { amount } balanceAfter { amount } } } } }
  notices { code message } } }
"""


async def test_smoke(api):
    body = await api.gql(OVERVIEW, citizen=ANNA)
    import json
    print(json.dumps(body, indent=1, ensure_ascii=False)[:3000])
    print(api.sql.count)
    assert "errors" not in body
