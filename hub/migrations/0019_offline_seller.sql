-- Backroom schema 20: an offline sale is the seller's, not whoever is signed in when it reaches the hub.
-- The register queues the sale with sold_by (who was signed in when it was made); the sale's actor is
-- that person, and the person whose session sent it is kept here. Approvals cannot be asked of the hub
-- while it is out of reach: what the sale would have needed is kept for the owner's review instead of
-- refusing a sale the customer has paid and left with, [{action, details, reason}], reason
-- no_approval (the seller's role needed one) or seller_unverified (a manager's discount or price
-- change sent by someone of a lower role, who could have typed the manager's name).
ALTER TABLE offline_sales ADD COLUMN sent_by TEXT;
ALTER TABLE offline_sales ADD COLUMN approvals_missing TEXT NOT NULL DEFAULT '[]';
