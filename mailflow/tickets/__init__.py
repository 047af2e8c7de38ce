"""Customer maintenance tickets (PROCESS_RULES R-PM-1…5, R-PM-10, R-PM-14): a customer's mail
opens a ticket, 客服 triages it by reply, the engineer gets the 派单, progress and overdue
mails run on the clock, the engineer's result is checked by 客服 and answered to the customer
with a request for satisfaction; an urgent ticket runs the emergency flow; closed tickets are
followed up (回访)."""
