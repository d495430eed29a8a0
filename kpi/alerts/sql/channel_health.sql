-- The health of every channel ever used: dead ones are not tried until their recheck is due.
select *
from alerts.channels
